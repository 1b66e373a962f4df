<?xml version="1.0" encoding="UTF-8"?>
<!--
  A fund's spf:GetIncomeProofResponse → canonical IncomeRecord.
  Dialect: FundCode SI/CSP, InsuredStatusCode 10 (active) / 20 (stopped),
  wage in OMR, WageMonth yyyy-mm (AsOfDate is that month's last day). The
  employer number is a CR number for private employers and a government
  unit number (GU-...) otherwise; only a CR number goes into Employer/CRNumber.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:spf="urn:om:spf:income:1"
    exclude-result-prefixes="spf">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/spf:GetIncomeProofResponse">
    <rabt:IncomeRecord>
      <rabt:CivilNumber><xsl:value-of select="normalize-space(spf:CivilId)"/></rabt:CivilNumber>
      <xsl:variable name="fund" select="normalize-space(spf:FundCode)"/>
      <rabt:Source>
        <xsl:choose>
          <xsl:when test="$fund = 'SI'">social-insurance</xsl:when>
          <xsl:when test="$fund = 'CSP'">civil-service-pension</xsl:when>
          <xsl:otherwise><xsl:message terminate="yes">unknown FundCode <xsl:value-of select="$fund"/></xsl:message></xsl:otherwise>
        </xsl:choose>
      </rabt:Source>
      <rabt:InsuranceNumber><xsl:value-of select="normalize-space(spf:InsuranceNo)"/></rabt:InsuranceNumber>
      <rabt:Employer>
        <xsl:variable name="reg" select="normalize-space(spf:EmployerRegNo)"/>
        <xsl:if test="string-length($reg) &gt;= 7 and string-length($reg) &lt;= 10 and translate($reg, '0123456789', '') = ''">
          <rabt:CRNumber><xsl:value-of select="$reg"/></rabt:CRNumber>
        </xsl:if>
        <xsl:if test="normalize-space(spf:EmployerNameAr) != ''"><rabt:Name xml:lang="ar"><xsl:value-of select="normalize-space(spf:EmployerNameAr)"/></rabt:Name></xsl:if>
        <xsl:if test="normalize-space(spf:EmployerNameEn) != ''"><rabt:Name xml:lang="en"><xsl:value-of select="normalize-space(spf:EmployerNameEn)"/></rabt:Name></xsl:if>
      </rabt:Employer>
      <xsl:variable name="status" select="normalize-space(spf:InsuredStatusCode)"/>
      <rabt:EmployeeStatus>
        <xsl:choose>
          <xsl:when test="$status = '10'">active</xsl:when>
          <xsl:when test="$status = '20'">inactive</xsl:when>
          <xsl:otherwise><xsl:message terminate="yes">unknown InsuredStatusCode <xsl:value-of select="$status"/></xsl:message></xsl:otherwise>
        </xsl:choose>
      </rabt:EmployeeStatus>
      <rabt:MonthlyWage currency="OMR"><xsl:value-of select="format-number(number(normalize-space(spf:MonthlyWage)), '0.000')"/></rabt:MonthlyWage>
      <rabt:AsOfDate><xsl:call-template name="month-end"><xsl:with-param name="ym" select="normalize-space(spf:WageMonth)"/></xsl:call-template></rabt:AsOfDate>
    </rabt:IncomeRecord>
  </xsl:template>

  <!-- yyyy-mm → the last day of that month (leap years included) -->
  <xsl:template name="month-end">
    <xsl:param name="ym"/>
    <xsl:variable name="y" select="number(substring($ym, 1, 4))"/>
    <xsl:variable name="m" select="number(substring($ym, 6, 2))"/>
    <xsl:if test="string-length($ym) != 7 or substring($ym, 5, 1) != '-' or not($m &gt;= 1 and $m &lt;= 12) or string($y) = 'NaN'">
      <xsl:message terminate="yes">WageMonth <xsl:value-of select="$ym"/> is not yyyy-mm</xsl:message>
    </xsl:if>
    <xsl:variable name="leap" select="($y mod 4 = 0 and $y mod 100 != 0) or $y mod 400 = 0"/>
    <xsl:variable name="days">
      <xsl:choose>
        <xsl:when test="$m = 2 and $leap">29</xsl:when>
        <xsl:when test="$m = 2">28</xsl:when>
        <xsl:when test="$m = 4 or $m = 6 or $m = 9 or $m = 11">30</xsl:when>
        <xsl:otherwise>31</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:value-of select="concat($ym, '-', $days)"/>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected spf:GetIncomeProofResponse, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
