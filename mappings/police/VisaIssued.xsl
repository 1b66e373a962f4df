<?xml version="1.0" encoding="UTF-8"?>
<!--
  Police visas visa:ReportVisaIssued (visa.xsd, 2021) → canonical VisaIssued.
  The licence type is read from the licence number's prefix; IssueDateTime
  may carry an offset (honoured) or none (Muscat local time).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:visa="urn:om:rop:visa:2021" xmlns:rabt="urn:rabt:canonical:v1"
    exclude-result-prefixes="visa">
  <xsl:include href="_police.xsl"/>
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/visa:ReportVisaIssued">
    <rabt:VisaIssued>
      <rabt:VisaNumber><xsl:value-of select="normalize-space(visa:VisaNo)"/></rabt:VisaNumber>
      <rabt:LicenceNumber><xsl:value-of select="normalize-space(visa:LicenceNo)"/></rabt:LicenceNumber>
      <rabt:LicenceType>
        <xsl:call-template name="licence-type"><xsl:with-param name="number" select="normalize-space(visa:LicenceNo)"/></xsl:call-template>
      </rabt:LicenceType>
      <rabt:Worker>
        <xsl:call-template name="person">
          <xsl:with-param name="passport" select="visa:PassportNo"/>
          <xsl:with-param name="name-en" select="visa:FullNameEn"/>
          <xsl:with-param name="nationality" select="visa:NationalityCode"/>
          <xsl:with-param name="birth" select="visa:BirthDate"/>
          <xsl:with-param name="gender" select="visa:GenderCode"/>
        </xsl:call-template>
      </rabt:Worker>
      <rabt:Profession>
        <rabt:Code><xsl:value-of select="normalize-space(visa:ProfessionCode)"/></rabt:Code>
      </rabt:Profession>
      <rabt:IssuedAt>
        <xsl:call-template name="utc-time"><xsl:with-param name="t" select="visa:IssueDateTime"/></xsl:call-template>
      </rabt:IssuedAt>
      <rabt:ValidUntil><xsl:value-of select="normalize-space(visa:ValidUntil)"/></rabt:ValidUntil>
    </rabt:VisaIssued>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected visa:ReportVisaIssued, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
