<?xml version="1.0" encoding="UTF-8"?>
<!-- Police bdr:NotifyResidenceRenewal (border.xsd, 2020) → canonical ResidenceRenewal. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:bdr="urn:om:rop:border:2020" xmlns:rabt="urn:rabt:canonical:v1"
    exclude-result-prefixes="bdr">
  <xsl:include href="_police.xsl"/>
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/bdr:NotifyResidenceRenewal">
    <rabt:ResidenceRenewal>
      <rabt:Worker>
        <xsl:call-template name="traveller">
          <xsl:with-param name="traveller" select="bdr:Traveller"/>
          <xsl:with-param name="card" select="bdr:ResidentCardNo"/>
        </xsl:call-template>
      </rabt:Worker>
      <rabt:ResidenceCard>
        <rabt:Number><xsl:value-of select="normalize-space(bdr:ResidentCardNo)"/></rabt:Number>
        <rabt:IssueDate><xsl:value-of select="normalize-space(bdr:CardIssueDate)"/></rabt:IssueDate>
        <rabt:ExpiryDate><xsl:value-of select="normalize-space(bdr:CardExpiryDate)"/></rabt:ExpiryDate>
      </rabt:ResidenceCard>
      <xsl:if test="bdr:PreviousExpiryDate">
        <rabt:PreviousExpiryDate><xsl:value-of select="normalize-space(bdr:PreviousExpiryDate)"/></rabt:PreviousExpiryDate>
      </xsl:if>
      <xsl:if test="bdr:SponsorCRNo">
        <rabt:EmployerCR><xsl:value-of select="normalize-space(bdr:SponsorCRNo)"/></rabt:EmployerCR>
      </xsl:if>
      <xsl:if test="bdr:SponsorCivilNo">
        <rabt:SponsorCivilNumber><xsl:value-of select="normalize-space(bdr:SponsorCivilNo)"/></rabt:SponsorCivilNumber>
      </xsl:if>
      <rabt:Profession>
        <rabt:Code><xsl:value-of select="normalize-space(bdr:ProfessionCode)"/></rabt:Code>
        <xsl:if test="normalize-space(bdr:ProfessionNameEn) != ''">
          <rabt:Title xml:lang="en"><xsl:value-of select="normalize-space(bdr:ProfessionNameEn)"/></rabt:Title>
        </xsl:if>
      </rabt:Profession>
      <rabt:RenewedAt>
        <xsl:call-template name="utc-time"><xsl:with-param name="t" select="bdr:RenewalDateTime"/></xsl:call-template>
      </rabt:RenewedAt>
    </rabt:ResidenceRenewal>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected bdr:NotifyResidenceRenewal, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
