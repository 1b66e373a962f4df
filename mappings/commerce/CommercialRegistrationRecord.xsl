<?xml version="1.0" encoding="UTF-8"?>
<!--
  The commercial registry's cr:GetCommercialRegistrationResponse → canonical
  CommercialRegistrationRecord. Dialect: status code 01/02/03/09, legal form
  abbreviations, ISO 3166-2:OM governorate, ISIC activity codes. Parameter
  "now" (UTC) is the AsOf time.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:cr="urn:om:moci:cr:v2"
    exclude-result-prefixes="cr">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:param name="now"/>

  <xsl:template match="/cr:GetCommercialRegistrationResponse">
    <rabt:CommercialRegistrationRecord>
      <rabt:Establishment>
        <rabt:CRNumber><xsl:value-of select="normalize-space(cr:CRNumber)"/></rabt:CRNumber>
        <xsl:call-template name="names"><xsl:with-param name="ar" select="cr:TradeNameAr"/><xsl:with-param name="en" select="cr:TradeNameEn"/></xsl:call-template>
        <rabt:Governorate><xsl:value-of select="normalize-space(cr:GovernorateCode)"/></rabt:Governorate>
      </rabt:Establishment>
      <xsl:variable name="form" select="normalize-space(cr:LegalFormCode)"/>
      <rabt:LegalForm>
        <xsl:choose>
          <xsl:when test="$form = 'EST'">sole-proprietorship</xsl:when>
          <xsl:when test="$form = 'LLC'">llc</xsl:when>
          <xsl:when test="$form = 'SAOG'">saog</xsl:when>
          <xsl:when test="$form = 'SAOC'">saoc</xsl:when>
          <xsl:when test="$form = 'PSHP'">partnership</xsl:when>
          <xsl:when test="$form = 'BRFC'">branch-of-foreign-company</xsl:when>
          <xsl:otherwise><xsl:message terminate="yes">unknown LegalFormCode <xsl:value-of select="$form"/></xsl:message></xsl:otherwise>
        </xsl:choose>
      </rabt:LegalForm>
      <xsl:variable name="status" select="normalize-space(cr:CRStatusCode)"/>
      <rabt:Status>
        <xsl:choose>
          <xsl:when test="$status = '01'">active</xsl:when>
          <xsl:when test="$status = '02'">expired</xsl:when>
          <xsl:when test="$status = '03'">suspended</xsl:when>
          <xsl:when test="$status = '09'">cancelled</xsl:when>
          <xsl:otherwise><xsl:message terminate="yes">unknown CRStatusCode <xsl:value-of select="$status"/></xsl:message></xsl:otherwise>
        </xsl:choose>
      </rabt:Status>
      <rabt:RegistrationDate><xsl:value-of select="normalize-space(cr:RegistrationDate)"/></rabt:RegistrationDate>
      <rabt:ExpiryDate><xsl:value-of select="normalize-space(cr:ExpiryDate)"/></rabt:ExpiryDate>
      <rabt:Activities>
        <xsl:for-each select="cr:Activities/cr:Activity">
          <rabt:Activity>
            <rabt:Code><xsl:value-of select="normalize-space(cr:ISICCode)"/></rabt:Code>
            <xsl:call-template name="names"><xsl:with-param name="ar" select="cr:DescriptionAr"/><xsl:with-param name="en" select="cr:DescriptionEn"/></xsl:call-template>
          </rabt:Activity>
        </xsl:for-each>
      </rabt:Activities>
      <rabt:AsOf><xsl:value-of select="$now"/></rabt:AsOf>
    </rabt:CommercialRegistrationRecord>
  </xsl:template>

  <xsl:template name="names">
    <xsl:param name="ar"/>
    <xsl:param name="en"/>
    <xsl:if test="normalize-space($ar) != ''"><rabt:Name xml:lang="ar"><xsl:value-of select="normalize-space($ar)"/></rabt:Name></xsl:if>
    <xsl:if test="normalize-space($en) != ''"><rabt:Name xml:lang="en"><xsl:value-of select="normalize-space($en)"/></rabt:Name></xsl:if>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected cr:GetCommercialRegistrationResponse, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
